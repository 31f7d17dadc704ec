/**
 * A user or password written into a URL shows wherever the URL does: process lists, shell history, config files,
 * `config print`, log lines. Such a URL is refused, and the message says where the credentials go instead.
 */
import { ConfigurationError, maskUrl, registerSecret } from './errors.js';

/** `where`: the variables or files this URL's credentials belong in, e.g. "the HEC token goes in …". */
export function refuseUrlCredentials(flag: string, url: string, where: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL at all: the caller's own check says so (masked).
    return;
  }
  if (u.username === '' && u.password === '') return;
  // Masked wherever it shows next (siem check goes on to other lines), as typed and as the parser read it.
  const typed = /^\s*[a-z][a-z0-9+.-]*:\/\/[^:/?#\\]*:([^/?#\\]*)@/i.exec(url)?.[1];
  for (const pw of [typed, u.password, safeDecode(u.password)]) registerSecret(pw);
  throw new ConfigurationError(`${flag} ${maskUrl(url)} has a user or password in it, which process lists and logs would show: remove it; ${where}`);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
