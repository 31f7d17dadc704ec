/**
 * Microsoft's Kusto language service (Kusto.Language compiled to JavaScript), loaded once for every test that
 * binds KQL: it sets the globals `Kusto` and `System`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');
const g = globalThis as any;
export const K: any = g.Kusto.Language;
export const S: any = K.Symbols;
/** The .NET runtime shim the language service's lists need (`System.Array.getCount`, `getItem`). */
export const System: any = g.System;
