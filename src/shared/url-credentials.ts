/**
 * A user or password written into a URL shows wherever the URL does: process lists, shell history, config files,
 * `config print`, log lines. Such a URL is refused, and the message says where the credentials go instead.
 */
import { ConfigurationError, maskUserinfo } from './errors.js';

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
  throw new ConfigurationError(`${flag} ${maskUserinfo(url)} has a user or password in it, which process lists and logs would show: remove it; ${where}`);
}
