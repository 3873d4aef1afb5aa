import type { SchemaPlugins } from './config/load.ts';

// The config sections owned by later stages, plugged into the one schema. (Composition, like app.ts.)
export const schemaPlugins: SchemaPlugins = {
  sections: {},
};
