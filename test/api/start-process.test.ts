/*
 * The API process as a developer meets it: PORT held by another program ends in one line
 * naming PORT (not an unhandled EADDRINUSE stack), and the README's way to see the SQL works.
 */
import net from "node:net";
import { refusedApiProcess, startApiProcess } from "../support/processes";
import { hmacKey, sign, testSecret } from "../support/tokens";

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

it("DEBUG=@dataplan/pg:PgExecutor prints the SQL PostGraphile sends (as the README says)", async () => {
  const secret = testSecret();
  const api = await startApiProcess({ JWT_SECRET: secret, DEBUG: "@dataplan/pg:PgExecutor" });
  try {
    const token = await sign({ sub: "debug-sql" }, hmacKey(secret));
    expect((await api.whoAmI(token)).body).toEqual({ data: { currentUserId: "debug-sql" } });
    expect(api.output()).toMatch(/@dataplan\/pg:PgExecutor[\s\S]*select[\s\S]*current_user_id/i);
  } finally {
    await api.stop();
  }
}, 60_000);
