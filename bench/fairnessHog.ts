/**
 * The hog's own process (see spawnHog in fairnessWorkload.ts): says it is ready, receives its
 * options over IPC, attacks and reports its counts every second until told "stop", then
 * stops, sends its final counts and exits.
 */
import { startHog, type HogOptions, type HogResult } from "./fairnessWorkload";

/**
 * graphql-ws can leave a socket's CloseEvent as an unhandled rejection when the server refuses
 * sockets; a hostile client carries on whatever the server does, so they are counted, not fatal.
 */
let clientRejections = 0;
process.on("unhandledRejection", () => (clientRejections += 1));

const report = (counts: HogResult, final: boolean, then: () => void = () => {}) => {
  if (clientRejections > 0) counts.sockets["client-side unhandled rejections"] = clientRejections;
  process.send!({ counts, final }, then);
};

process.once("message", (options: HogOptions) => {
  const hog = startHog(options);
  const reporting = setInterval(() => report(hog.counts(), false), 1000);
  process.once("message", () => {
    clearInterval(reporting);
    void hog.stop().then(
      (counts) => report(counts, true, () => process.exit(0)),
      (error: unknown) => {
        process.stderr.write(`the hog failed to stop cleanly: ${String(error)}\n`);
        report(hog.counts(), true, () => process.exit(0));
      },
    );
  });
});
process.send!("ready");
// The parent gone (a killed test or bench): stop attacking.
process.once("disconnect", () => process.exit(0));
