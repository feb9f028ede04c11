import type { Progress } from "./commands";

/**
 * A one-line progress bar on stderr. When stderr is not a terminal (a log file, a CI job), plain
 * lines instead: one the first time the work reaches each 10% step, and one at 100%.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): Progress {
  let lastPercent = -1;
  let lastStep = -1;
  return (done, total, label) => {
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    const line = `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}% (${done}/${total})`;
    if (stream.isTTY) {
      if (percent === lastPercent && done !== total) return;
      lastPercent = percent;
      stream.write(`\r${line}${done === total ? "\n" : ""}`);
      return;
    }
    // A batch may cross several steps at once: it gets one line, showing where the work is.
    const step = done >= total ? 10 : Math.floor(percent / 10);
    if (step <= lastStep) return;
    lastStep = step;
    stream.write(`${line}\n`);
  };
}
