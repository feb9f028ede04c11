type Frame = { key: string | null } | { index: number };

export type JsonPath = (string | number)[];

/**
 * The path of the value that starts at `offset` of a JSON text: member names and array indexes
 * from the top ([] for the top level). Run only once a problem has been found, so the checks'
 * own pass stays a plain scan. Text that is not JSON up to `offset` gives a best guess.
 */
export function jsonPathAt(text: string, offset: number): JsonPath {
  const frames: Frame[] = [];
  let expectingKey = false;
  let lastString = "";
  for (let i = 0; i < offset && i < text.length; i++) {
    const ch = text[i];
    const top = frames.at(-1);
    if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (expectingKey) lastString = decoded(text.slice(start, i + 1));
    } else if (ch === "{") {
      frames.push({ key: null });
      expectingKey = true;
    } else if (ch === "[") frames.push({ index: 0 });
    else if (ch === "}" || ch === "]") frames.pop();
    else if (ch === "," && top) {
      if ("index" in top) top.index++;
      else expectingKey = true;
    } else if (ch === ":" && top && "key" in top) {
      top.key = lastString;
      expectingKey = false;
    }
  }
  return frames.flatMap((frame): JsonPath => {
    if ("index" in frame) return [frame.index];
    return frame.key === null ? [] : [frame.key];
  });
}

/** A path in the validators' words: `steps[2].name`. */
export function formatJsonPath(path: JsonPath): string {
  let out = "";
  for (const segment of path)
    out += typeof segment === "number" ? `[${segment}]` : out ? `.${segment}` : segment;
  return out;
}

function decoded(quoted: string): string {
  try {
    return String(JSON.parse(quoted));
  } catch {
    return quoted.slice(1, -1);
  }
}
