import type { SchemaPlugins } from './config/load.ts';
import { intakeSchema } from './sources/webhooks/schema.ts';

// The config sections owned by later stages, plugged into the one schema. (Composition, like app.ts.)
export const schemaPlugins: SchemaPlugins = {
  sections: { intake: intakeSchema },
};
