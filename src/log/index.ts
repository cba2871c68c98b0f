// Metrics files, terminal progress and self-contained HTML reports.
export { MetricsWriter, readMetrics } from './metrics';
export type { MetricsRow } from './metrics';
export { createReporter } from './reporter';
export type { Reporter, ReporterOptions } from './reporter';
export { renderSaliencyHtml, heatColour } from './saliency-html';
export type { SaliencyItem } from './saliency-html';
export { renderTrainReport, REPORT_CHARTS } from './train-report';
export type { TrainReportInput } from './train-report';
export { renderEvalReport } from './eval-report';
export type { EvalReportInput } from './eval-report';
export { writeFileAtomic } from './atomic';
export { escapeHtml } from './escape';
export { saliencyItem } from './saliency-item';
export type { SaliencyItemSource } from './saliency-item';
export { MetricWindow, isLogStep } from './metric-window';
export { TensorBoardWriter } from './tensorboard';
export { formatRunSummary } from './run-summary';
