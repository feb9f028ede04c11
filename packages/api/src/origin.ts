/**
 * The origin of a web URL, `scheme://host[:port]` as browsers send it in the Origin header
 * (`HTTPS://App.Example.com:443/` → `https://app.example.com`), or null for anything else:
 * another scheme, a path, query, fragment or credentials, or no URL at all.
 */
export function webOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    const web = url.protocol === "https:" || url.protocol === "http:";
    return web && url.href === `${url.origin}/` ? url.origin : null;
  } catch {
    return null;
  }
}
