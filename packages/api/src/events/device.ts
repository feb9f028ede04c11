import type { Device } from "./schema";

/**
 * The device of a request, for events that do not name one: the `Sec-CH-UA-Mobile` client hint
 * when sent (`?1` mobile, `?0` not mobile), else the User-Agent, else unknown (null).
 */
export function deviceFromHeaders(headers: { uaMobile?: string; userAgent?: string }): Device | null {
  const hint = headers.uaMobile?.trim();
  if (hint === "?1") return "mobile";
  if (hint === "?0") return tabletUserAgent(headers.userAgent) ? "tablet" : "desktop";
  return deviceFromUserAgent(headers.userAgent);
}

function tabletUserAgent(ua: string | undefined): boolean {
  return (
    !!ua && (/iPad|Tablet|PlayBook|Silk|Kindle/i.test(ua) || (/Android/i.test(ua) && !/Mobile/i.test(ua)))
  );
}

export function deviceFromUserAgent(ua: string | undefined): Device | null {
  if (!ua) return null;
  if (tabletUserAgent(ua)) return "tablet";
  if (/Mobi|iPhone|iPod|Android|Windows Phone|Opera Mini/i.test(ua)) return "mobile";
  if (/Windows NT|Macintosh|X11|CrOS|Linux/i.test(ua)) return "desktop";
  return null;
}
