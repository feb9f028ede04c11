import type { Progress } from "./commands";

/** A one-line progress bar on stderr; plain lines when stderr is not a terminal. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): Progress {
  let lastPercent = -1;
  return (done, total, label) => {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    if (percent === lastPercent && done !== total) return;
    lastPercent = percent;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    const line = `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}% (${done}/${total})`;
    if (stream.isTTY) stream.write(`\r${line}${done === total ? "\n" : ""}`);
    else if (percent % 10 === 0 || done === total) stream.write(`${line}\n`);
  };
}
