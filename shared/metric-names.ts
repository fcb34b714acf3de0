// The metric names both sides agree on: what the predictor and the local gateway
// export, and what the controller's queries, dashboards and reports read.

/** Istio's standard request counter (labels: destination_version, response_code, request_mirrored, reporter). */
export const ISTIO_REQUESTS = 'istio_requests_total';
/** Istio's standard request-duration histogram, in milliseconds (`_bucket`, `_sum`, `_count`). */
export const ISTIO_DURATION = 'istio_request_duration_milliseconds';
/** The predictor's ground-truth counter (labels: model, version, outcome). */
export const PREDICTOR_FEEDBACK = 'weir_predictor_feedback_total';
/** The predictor's confusion matrix (labels: model, version, predicted, actual). */
export const PREDICTOR_CONFUSION = 'weir_predictor_confusion_total';
/** Rows two versions both answered, by outcome (labels: model, version, baseline, outcome). */
export const PREDICTOR_PAIRED_FEEDBACK = 'weir_predictor_paired_feedback_total';
/** 1 while the predictor's prediction log accepts writes (labels: model, version, log). */
export const PREDICTOR_LOG_UP = 'weir_predictor_prediction_log_up';
