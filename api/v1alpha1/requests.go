package v1alpha1

// Requests from people (promote, abort, retry, undo, pause, resume) are annotations on the Rollout,
// never spec: Git owns the spec, and a sync must neither undo a request nor be undone by one.
// Argo CD and kubectl apply leave annotations they did not set alone.
//
// Promote, abort, retry and undo carry a token (any string that differs from the last one, such as
// a timestamp): the controller acts on a token once and records it in
// status.handledRequests, so a request is idempotent however often it is read. Pause is a
// state: the rollout holds while the annotation says "true".
const (
	// AnnotationPromote passes the current manual gate. The value "full:<token>" skips the
	// remaining steps and analysis and promotes at once.
	AnnotationPromote = "tranche.dev/promote"
	// AnnotationAbort rolls the current canary back; it is not retried until the target
	// changes again or a retry is requested.
	AnnotationAbort = "tranche.dev/abort"
	// AnnotationRetry starts again the rollout of a revision that failed or was aborted.
	AnnotationRetry = "tranche.dev/retry"
	// AnnotationUndo puts back on the primary, at once and with no steps or analysis, the
	// revision it ran before its current one (as its Deployment keeps it). The target's
	// revision stays undone (Aborted) until the target changes or a retry is requested. The
	// token may end with " by <name>", naming who asked, for the event and the notification.
	AnnotationUndo = "tranche.dev/undo"
	// AnnotationPaused holds the rollout where it is while its value is "true".
	AnnotationPaused = "tranche.dev/paused"
	// PromoteFullPrefix marks a promote token that skips the remaining steps.
	PromoteFullPrefix = "full:"
)

// Labels and annotations Tranche puts on the objects it creates.
const (
	// LabelRollout names the Rollout an object belongs to.
	LabelRollout = "tranche.dev/rollout"
	// AnnotationRevision records, on the primary and on its pod template, the pod-template
	// hash it was copied from: the primary's earlier ReplicaSets say which revision each ran.
	AnnotationRevision = "tranche.dev/revision"
	// AnnotationConfigured marks, with "true", a primary pod template whose revision covers
	// ConfigMaps or Secrets: their data of then lives only in the primary's copies, which a
	// later promotion overwrote, so an undo cannot bring that revision back.
	AnnotationConfigured = "tranche.dev/configured"
	// AnnotationHandedOver marks the apex Service a deleted Rollout left behind, selecting
	// the target's pods: a Rollout of the same name created again takes it back.
	AnnotationHandedOver = "tranche.dev/handed-over"
	// AnnotationReleasedAt records, on a Rollout being deleted, when the data plane took its
	// released routes (see providers.Releaser): the primary stays scaleDownDelay longer, for
	// data planes that say they took a route a moment before they serve by it.
	AnnotationReleasedAt = "tranche.dev/released-at"
	// AnnotationScaledTo records, on the target, the replica count Tranche last gave it: a
	// count that differs was given by the target's owner (see TargetStatus.DeclaredReplicas).
	AnnotationScaledTo = "tranche.dev/scaled-to"
	// AnnotationOwnGenerations records, on the target, a range of its generations "FROM-TO"
	// that differ from each other only by Tranche's writes of its replica count (see
	// TargetStatus.Covers): a status about FROM is about TO too, and needs no write.
	AnnotationOwnGenerations = "tranche.dev/own-generations"
	// NodeSelectorParked is the nodeSelector key, with the value "true", that parks an idle
	// DaemonSet target: no node has the label, so it runs no pod. A DaemonSet has no replica
	// count to scale to zero. The revision leaves it out (see TemplateRevision).
	NodeSelectorParked = "tranche.dev/parked"
	// AnnotationConfigTracking on a ConfigMap or Secret the target's pods use, set to
	// ConfigTrackingDisabled, keeps it out of the target's revision: both versions share it.
	AnnotationConfigTracking = "tranche.dev/config-tracking"
	ConfigTrackingDisabled   = "disabled"
)
