/**
 * The hog's own process (see spawnHog in fairnessWorkload.ts): receives its options over
 * IPC, attacks until told "stop", then sends back its outcome counts and exits.
 */
import { startHog, type HogOptions } from "./fairnessWorkload";

process.once("message", (options: HogOptions) => {
  const hog = startHog(options);
  process.send!("started");
  process.once("message", () => {
    void hog.stop().then((result) => process.send!(result, () => process.exit(0)));
  });
});
// The parent gone (a killed test or bench): stop attacking.
process.once("disconnect", () => process.exit(0));
