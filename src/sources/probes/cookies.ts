// A small cookie jar for one probe run (a flow's login carries its session cookie into the next steps).
// It keeps name, value, domain (host-only unless Domain= is given), path, secure and expiry; enough
// for a synthetic user, not a browser.

interface Cookie {
  name: string;
  value: string;
  domain: string;
  hostOnly: boolean;
  /** A host-only cookie goes back to the port that set it (as written in the URL), never to another port. */
  port: string;
  path: string;
  secure: boolean;
  expiresAt?: number;
}

export class CookieJar {
  #cookies = new Map<string, Cookie>();

  constructor(private readonly now: () => number) {}

  /** Take the Set-Cookie headers of a response to `url`. */
  store(url: URL, setCookie: string | string[] | undefined): void {
    if (!setCookie) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      const c: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        domain: url.hostname,
        hostOnly: true,
        port: url.port,
        path: defaultPath(url),
        secure: false,
      };
      let rejected = false;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i < 0 ? '' : attr.slice(i + 1).trim();
        if (key === 'domain' && val) {
          const d = val.replace(/^\./, '').toLowerCase();
          if (!domainMatch(url.hostname, d)) rejected = true; // a site may not set cookies for another (RFC 6265 5.3)
          c.domain = d;
          c.hostOnly = false;
        } else if (key === 'path' && val.startsWith('/')) c.path = val;
        else if (key === 'secure') c.secure = true;
        else if (key === 'max-age' && /^-?\d+$/.test(val)) c.expiresAt = this.now() + Number(val) * 1000;
        else if (key === 'expires' && c.expiresAt === undefined) {
          const t = Date.parse(val);
          if (Number.isFinite(t)) c.expiresAt = t;
        }
      }
      if (rejected) continue;
      const key = `${c.domain}\u0000${c.path}\u0000${c.name}`;
      if (c.expiresAt !== undefined && c.expiresAt <= this.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, c);
    }
  }

  /** The Cookie header for a request to `url`, or undefined. */
  header(url: URL): string | undefined {
    const now = this.now();
    const out: string[] = [];
    for (const c of this.#cookies.values()) {
      if (c.expiresAt !== undefined && c.expiresAt <= now) continue;
      if (c.secure && url.protocol !== 'https:') continue;
      if (c.hostOnly ? url.hostname !== c.domain || url.port !== c.port : !domainMatch(url.hostname, c.domain)) continue;
      if (!pathMatch(url.pathname, c.path)) continue;
      out.push(`${c.name}=${c.value}`);
    }
    return out.length ? out.join('; ') : undefined;
  }

  get size(): number {
    return this.#cookies.size;
  }
}

const domainMatch = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);
const pathMatch = (path: string, prefix: string) =>
  path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));

function defaultPath(url: URL): string {
  const p = url.pathname;
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}
