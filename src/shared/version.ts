/** The package's version, for `--version`, the startup line and the User-Agent of every request. */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
export const USER_AGENT = `oversight-siem/${VERSION}`;
