import { StopSignals } from "./stop-signals";

// Stop signals are taken from the first moment: loading the rest of the server takes a few
// hundred milliseconds, and a signal meanwhile would get Node's default (killed, not stopped).
const signals = new StopSignals();

// Whatever reads stdout may be gone (`pnpm start | head`): the write then fails with EPIPE, which
// must not kill the server before it releases its data folder.
process.stdout.on("error", () => {});

const { start, reportStartFailure } = await import("./start");
start(signals).catch((error) => {
  reportStartFailure(error);
  process.exit(1);
});
