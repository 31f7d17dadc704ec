/**
 * Every SIEM whose content the package ships. `npm run content` regenerates each module's files under
 * `content/<name>/`, and `oversight siem content <name>` writes that folder for a user.
 *
 * Register a module with one line in the list, for example:
 *   import { splunkContent } from './splunk.js';   (at the top)
 *   splunkContent,                                   (in the list)
 */
import { elasticContent } from './elastic.js';
import { sentinelContent } from './sentinel.js';
import type { SiemContent } from './siem.js';
import { splunkContent } from './splunk.js';

export const SIEM_CONTENT: readonly SiemContent[] = [
  splunkContent,
  elasticContent,
  sentinelContent,
];
