// Event kinds this provider reads or writes. Use these names everywhere; never bare numbers.

/** NIP-90 job request for text generation (data-vending-machines kinds/5050.md). */
export const JOB_REQUEST_TEXT = 5050;
/** NIP-90: a result is always the request kind + 1000. */
export const JOB_RESULT_TEXT = 6050;
/** NIP-90 job feedback (status updates, payment requests, partial results). */
export const JOB_FEEDBACK = 7000;
/** NIP-09 deletion request: a customer cancels a job; we withdraw our announcement. */
export const DELETION = 5;
/** NIP-89 handler information (the provider's announcement). */
export const HANDLER_INFO = 31990;
/** DVM liveness convention: replaceable heartbeat carrying the announcement's d tag. */
export const HEARTBEAT = 11998;
/** DVM liveness convention: a client pings a provider, answered by kind 7000 status `pong`. */
export const PING = 7007;
/** NIP-01 user metadata (profile). */
export const PROFILE = 0;
/** NIP-57 zap receipt. */
export const ZAP_RECEIPT = 9735;
/** NIP-57 zap request (embedded in a receipt's description tag). */
export const ZAP_REQUEST = 9734;
