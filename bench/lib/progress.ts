/** A one-line progress bar on stderr; plain lines every 10% when stderr is not a terminal. */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  let lastPercent = -1;
  const started = performance.now();
  return (done: number) => {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    if (percent === lastPercent) return;
    lastPercent = percent;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const line = `${label.padEnd(28)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(percent).padStart(3)}% ${done}/${total} ${seconds}s`;
    if (stream.isTTY) stream.write(`\r${line}${done >= total ? "\n" : ""}`);
    else if (percent % 10 === 0) stream.write(`${line}\n`);
  };
}
