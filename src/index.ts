/** dane-smtp as a library: the same results as the CLI's JSON. */
export type { Proof, DnsAnswer, Resolver, RecordType, TlsaData, MxData } from './dns/types.js';
export { StubResolver, type StubResolverOptions } from './dns/stub.js';
export { probeValidation, type ValidationProbe } from './dns/probe.js';
export { classifyTlsa, recordUsability, type ClassifiedTlsa, type TlsaUsability, type UnusableReason } from './dane/tlsa.js';
export { authenticate, type AuthResult, type AuthMatch, type AuthFailure, type CertInfo } from './dane/authenticate.js';
export { decideMx, planHost, type HostPlan, type HostLevel, type MxDecision } from './dane/plan.js';
export { processDestination, type DestinationOptions, type Job } from './delivery/destination.js';
export { runAll, exitCodeOf, workFor, type RunOptions, type Work } from './delivery/run.js';
export { VERDICTS, type Verdict, type DomainResult, type SessionDomainResult, type FailedDomainResult, type SessionVerdict, type DomainRecipient, type HostReport, type AttemptReport } from './delivery/result.js';
export { DaneSmtpError, ERROR_CODES, type ErrorCode } from './errors.js';
export type { SmtpEnvelope, RecipientResult, SmtpSessionResult } from './smtp/types.js';
export { check, deliver, type ClientOptions, type DeliverOptions, type DeliveryEvent } from './api.js';
export { daneTransport, DaneDeliveryError, type DaneTransportOptions, type DaneSentMessageInfo } from './nodemailer/transport.js';
export { parsePolicyTable, lookupPolicy, emptyPolicyTable, LEVELS, type Level, type PolicyEntry, type PolicyTable } from './policy/table.js';
export { ValidatingResolver, parseTrustAnchors, IANA_ROOT_ANCHORS, type TrustAnchor } from './dns/dnssec/index.js';
export { CachingResolver } from './dns/cache.js';
export { diagnose, FINDING_CODES } from './diagnostics/findings.js';
