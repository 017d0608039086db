package v1alpha1

// Condition types of a Rollout. Ready, Reconciling and Stalled follow kstatus, so generic
// tools (kubectl wait, Argo CD, Flux) understand them; Promoted and Analysis are Tranche's.
const (
	// ConditionReady is True when the Rollout is valid, its references resolve and its
	// workloads serve traffic.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is moving the Rollout towards its spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the controller cannot make progress until the user
	// changes something; its message says what. A rollout that was rolled back or aborted
	// is Stalled too, with its phase (Failed, Aborted) as the reason: the stable version
	// serves, and nothing moves until a new revision or a retry.
	ConditionStalled = "Stalled"
	// ConditionPromoted is True once the canary revision has been promoted to primary.
	ConditionPromoted = "Promoted"
	// ConditionAnalysis reports the verdict of the latest analysis run.
	ConditionAnalysis = "Analysis"
)

// Condition reasons. Each says in one word why a condition has its status.
const (
	ReasonSucceeded          = "Succeeded"
	ReasonProgressing        = "Progressing"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonTargetNotFound     = "TargetNotFound"
	ReasonTemplateNotFound   = "TemplateNotFound"
	ReasonTemplateInvalid    = "TemplateInvalid"
	ReasonProviderNotFound   = "NotificationProviderNotFound"
	ReasonReferencesResolved = "ReferencesResolved"
	// ReasonRoutesRefused: the data plane refused routes that send all traffic to the primary.
	ReasonRoutesRefused = "RoutesRefused"
	// ReasonReferenceRefused: the Rollout refers to an object or an address the controller's
	// isolation flags refuse (--no-cross-namespace-refs, --namespaces, --allowed-webhook-hosts).
	ReasonReferenceRefused = "ReferenceRefused"
)
