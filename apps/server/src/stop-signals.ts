/** Stop signals closer together than this are one request to stop. */
export const REPEAT_WINDOW_MS = 1000;

/**
 * Calls `stop` on the first SIGINT or SIGTERM, and `force` on one that comes later. One Ctrl-C
 * can reach the process more than once within milliseconds: the terminal signals the whole
 * process group, and pnpm passes its own on (`pnpm start` as SIGINT, `pnpm odyssey` as
 * SIGTERM). Those within `REPEAT_WINDOW_MS` of the first are that same request, not a second
 * one that would cut short the work the first stops cleanly. Answers a function that removes the
 * handlers.
 */
export function onStopSignals(
  stop: (signal: NodeJS.Signals) => void,
  force: (signal: NodeJS.Signals) => void,
): () => void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      stop(signal);
    } else if (now - firstAt >= REPEAT_WINDOW_MS) force(signal);
  };
  process.on("SIGINT", handler).on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler).off("SIGTERM", handler);
  };
}

/**
 * Stop signals taken from the moment this is made, for handlers attached later: `handle` hears
 * at once of a signal that came before it. Until then a signal is only remembered, and a later
 * one (past the window) exits with 1.
 */
export class StopSignals {
  private first: NodeJS.Signals | undefined;
  private stop: ((signal: NodeJS.Signals) => void) | undefined;
  private force: (signal: NodeJS.Signals) => void = () => process.exit(1);

  constructor() {
    onStopSignals(
      (signal) => {
        this.first = signal;
        this.stop?.(signal);
      },
      (signal) => this.force(signal),
    );
  }

  handle(stop: (signal: NodeJS.Signals) => void, force: (signal: NodeJS.Signals) => void): void {
    this.stop = stop;
    this.force = force;
    if (this.first) stop(this.first);
  }
}
