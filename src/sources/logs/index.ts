// The log intake's public surface, for the composition root, the config loader and the CLI.
export { logRuleFileSchema, logRuleSchema, logsConfigSchema } from './config.ts';
export type { FileInputConfig, JournaldInputConfig, LogRuleConfig, LogsConfig, MultilineConfig, SyslogListenerConfig } from './config.ts';
export { checkLogsConfig, loadLogRules, LogConfigError, LogIntake, logsConfigProblems, type LogConfigProblem, type LogIntakeDeps } from './intake.ts';
export { saveCheckpoint, type Checkpoint } from './offsets.ts';
export { compilePattern, PatternError } from './patterns.ts';
export { compileRules, RuleError } from './rules.ts';
