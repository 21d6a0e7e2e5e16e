/*
 * PORT held by another program: the API exits 1 with one line naming PORT, not an
 * unhandled EADDRINUSE stack (src/server.ts), and releases what it had opened.
 */
import net from "node:net";
import { refusedApiProcess } from "../support/processes";
import { testSecret } from "../support/tokens";

it("exits 1 and says to set PORT when the port is in use", async () => {
  const held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
  const port = (held.address() as net.AddressInfo).port;
  try {
    const { code, output } = await refusedApiProcess({ JWT_SECRET: testSecret(), PORT: String(port) });
    expect(output).toContain(
      `Tasks API cannot listen on 127.0.0.1:${port}: the port is in use; set PORT to a free port`,
    );
    expect(code).toBe(1);
    expect(output).not.toMatch(/EADDRINUSE|\n\s+at /);
  } finally {
    held.close();
  }
}, 60_000);
