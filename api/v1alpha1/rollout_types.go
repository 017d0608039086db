package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Rollout moves the traffic of a workload from its stable version to a new one in steps,
// asks Prometheus at every step whether the new version is healthy, and promotes it or
// rolls all traffic back to the stable version.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tro,categories=tranche
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.canaryWeight`,description="Percent of traffic on the canary"
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.currentStep`,description="Index of the current step"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Stable",type=string,JSONPath=`.status.stableRevision`,priority=1
// +kubebuilder:printcolumn:name="Canary",type=string,JSONPath=`.status.canaryRevision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.group) || !has(self.spec.group.after) || self.spec.group.after.all(a, a.rollout != self.metadata.name)",message="spec.group.after names this Rollout itself: a member cannot come after itself"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="a Rollout's name must be at most 63 characters: Tranche labels the objects it makes with it (tranche.dev/rollout), and a label value is at most 63"
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the user keeps in Git.
	// +required
	Spec RolloutSpec `json:"spec"`

	// status is what the controller observed and decided; nothing here belongs in Git.
	// +optional
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutSpec describes the workload to roll out, how traffic reaches it, the steps and the
// analysis that decides each step.
//
// Provider features are checked against the steps here, where both are visible.
// +kubebuilder:validation:XValidation:rule="!has(self.provider.kubernetes) || !has(self.steps) || self.steps.all(s, !has(s.weight) || s.weight == 0 || s.weight == 100)",fieldPath=".steps",message="the kubernetes provider switches all traffic at once (blue/green): every step weight must be 0 or 100"
// +kubebuilder:validation:XValidation:rule="!has(self.provider.kubernetes) || !has(self.analysis) || !has(self.analysis.metrics) || self.analysis.metrics.all(m, !has(m.builtin))",fieldPath=".analysis.metrics",message="the kubernetes provider has no data plane to take built-in metrics from: use templateRef with a MetricTemplate"
// +kubebuilder:validation:XValidation:rule="!has(self.provider.kubernetes) || !has(self.analysis) || !has(self.analysis.verifyTraffic)",fieldPath=".analysis.verifyTraffic",message="the kubernetes provider has no data plane metrics to measure the canary's share with, and switches all traffic at once: leave out verifyTraffic"
// +kubebuilder:validation:XValidation:rule="!has(self.provider.nginx) || !has(self.analysis) || !has(self.analysis.verifyTraffic)",fieldPath=".analysis.verifyTraffic",message="the nginx provider cannot measure the canary's share yet: its built-in queries count the canary Ingress's requests, not those of yours: leave out verifyTraffic"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || !self.steps.exists(s, has(s.match)) || has(self.provider.gatewayAPI) || has(self.provider.istio) || has(self.provider.linkerd) || has(self.provider.nginx)",fieldPath=".steps",message="steps with match (A/B testing) need the gatewayAPI, istio, linkerd or nginx provider"
// +kubebuilder:validation:XValidation:rule="!has(self.provider.nginx) || !has(self.steps) || !self.steps.exists(s, has(s.match) && s.match.exists(m, has(m.queryParams)))",fieldPath=".steps",message="the nginx provider cannot match on queryParams: match on headers or cookies"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || !self.steps.exists(s, has(s.mirror)) || has(self.provider.gatewayAPI) || has(self.provider.istio) || has(self.provider.traefik)",fieldPath=".steps",message="steps with mirror need the gatewayAPI, istio or traefik provider"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'GRPC' || !(has(self.provider.traefik) || has(self.provider.nginx))",fieldPath=".service.protocol",message="service.protocol GRPC needs the gatewayAPI (a GRPCRoute), istio, linkerd, smi or kubernetes provider: the traefik and nginx providers route HTTP only"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'GRPC' || !has(self.steps) || !self.steps.exists(s, has(s.match) && s.match.exists(m, has(m.cookies) || has(m.queryParams)))",fieldPath=".steps",message="a gRPC service's A/B steps match on headers (gRPC metadata) only: gRPC clients send no cookies and no query parameters"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'TCP' || has(self.provider.gatewayAPI) || has(self.provider.smi) || has(self.provider.kubernetes)",fieldPath=".service.protocol",message="service.protocol TCP needs the gatewayAPI (a TCPRoute), smi or kubernetes provider"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'TCP' || !has(self.steps) || !self.steps.exists(s, has(s.match) || has(s.mirror))",fieldPath=".steps",message="a TCP service's steps split by weight alone: its connections carry nothing to match, and no Gateway mirrors them"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'TCP' || !has(self.sessionAffinity)",fieldPath=".sessionAffinity",message="sessionAffinity keeps a client on the canary with a cookie, which a TCP connection does not carry: leave it out for a TCP service"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'TCP' || !has(self.provider.gatewayAPI) || (!has(self.provider.gatewayAPI.timeouts) && !has(self.provider.gatewayAPI.hostnames))",fieldPath=".provider.gatewayAPI",message="a TCPRoute has no hostnames and no timeouts: leave them out of spec.provider.gatewayAPI for a TCP service"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'TCP' || !has(self.analysis) || ((!has(self.analysis.metrics) || self.analysis.metrics.all(m, !has(m.builtin))) && !has(self.analysis.verifyTraffic))",fieldPath=".analysis",message="a TCP service has no request metrics built in (a data plane counts its connections, not requests): use templateRef with a MetricTemplate, and leave out verifyTraffic"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || !self.steps.exists(s, has(s.match) && s.match.exists(m, has(m.grpcMethod))) || (has(self.service.protocol) && self.service.protocol == 'GRPC' && (has(self.provider.gatewayAPI) || has(self.provider.linkerd)))",fieldPath=".steps",message="a grpcMethod match needs service.protocol GRPC and the gatewayAPI or linkerd provider (a GRPCRoute)"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'GRPC' || !has(self.sessionAffinity)",fieldPath=".sessionAffinity",message="sessionAffinity keeps a client on the canary with a cookie, which gRPC clients do not carry: leave it out for a GRPC service"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'GRPC' || !has(self.provider.gatewayAPI) || !has(self.provider.gatewayAPI.timeouts)",fieldPath=".provider.gatewayAPI.timeouts",message="a GRPCRoute has no timeouts: leave out spec.provider.gatewayAPI.timeouts for a GRPC service"
// +kubebuilder:validation:XValidation:rule="!has(self.service.protocol) || self.service.protocol != 'GRPC' || !has(self.provider.gatewayAPI) || !has(self.steps) || !self.steps.exists(s, has(s.mirror))",fieldPath=".steps",message="a GRPCRoute's RequestMirror filter is a feature no Gateway can say it has (Traefik fails every request of such a rule): leave out mirror steps for a GRPC service with the gatewayAPI provider"
// +kubebuilder:validation:XValidation:rule="!has(self.service.ports) || has(self.provider.gatewayAPI) || has(self.provider.smi) || has(self.provider.kubernetes)",fieldPath=".service.ports",message="service.ports needs the gatewayAPI (a route for each port), smi or kubernetes provider"
// +kubebuilder:validation:XValidation:rule="!has(self.service.ports) || !has(self.steps) || !self.steps.exists(s, has(s.match) || has(s.mirror))",fieldPath=".steps",message="a Rollout with service.ports splits every port by weight alone: A/B and mirror steps would route one port apart from the others; leave them out"
// +kubebuilder:validation:XValidation:rule="!has(self.service.ports) || !has(self.provider.gatewayAPI) || (size(self.service.ports) == 1 && ((has(self.service.protocol) && self.service.protocol == 'TCP') != (has(self.service.ports[0].protocol) && self.service.ports[0].protocol == 'TCP')))",fieldPath=".service.ports",message="with the gatewayAPI provider, service.ports holds one port, a TCP one beside an HTTP or GRPC port, or the other way round: two HTTPRoutes or GRPCRoutes (or two TCPRoutes) attach to the same listeners, where they clash"
// +kubebuilder:validation:XValidation:rule="!has(self.service.ports) || !has(self.sessionAffinity)",fieldPath=".sessionAffinity",message="sessionAffinity keeps a client on the canary on one port only: leave it out of a Rollout with service.ports"
// +kubebuilder:validation:XValidation:rule="!has(self.sessionAffinity) || has(self.provider.gatewayAPI) || has(self.provider.istio) || has(self.provider.linkerd) || has(self.provider.nginx) || has(self.provider.traefik)",fieldPath=".sessionAffinity",message="sessionAffinity needs the gatewayAPI, istio, linkerd, nginx or traefik provider: smi and kubernetes cannot keep a client on the canary"
type RolloutSpec struct {
	// targetRef is the workload whose new versions are rolled out. Its pod template is the
	// version under test (the canary); Tranche keeps a copy of the last promoted template in
	// a Deployment named <name>-primary and scales the target to zero while idle.
	// +required
	TargetRef TargetRef `json:"targetRef"`

	// service describes the port clients call. Tranche creates the Services <name> (what
	// clients call), <name>-primary and <name>-canary, where <name> is the target's name.
	// +required
	Service ServiceSpec `json:"service"`

	// provider is the service mesh or gateway that splits traffic. Exactly one must be set.
	// +required
	Provider Provider `json:"provider"`

	// steps are walked in order; each sets the routes and then holds while analysis runs.
	// After the last step the new version is promoted. Default: weights 5, 50 and 100; with
	// the kubernetes provider (blue/green), weight 0 for one analysis interval, then 100.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Steps []Step `json:"steps,omitempty"`

	// sessionAffinity keeps a client that reached the canary on it (sticky sessions): the
	// canary's responses set a cookie, and requests that carry it go to the canary for as
	// long as a weight step gives the canary a share of traffic. Without it, each request
	// is split on its own. Needs the gatewayAPI, istio, linkerd, nginx or
	// traefik provider.
	// +optional
	SessionAffinity *SessionAffinity `json:"sessionAffinity,omitempty"`

	// analysis says what is measured at each step and when the canary has failed. Without it
	// every step passes once its hold has elapsed.
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`

	// notify lists where news of this rollout is sent.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Notify []NotificationRef `json:"notify,omitempty"`

	// progressDeadline is how long the canary may take to become ready, and a step may stay
	// without progress, before the rollout is rolled back. Default: 10m.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="progressDeadline must be at least 1s"
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// scaleDownDelay is how long the canary keeps its replicas after all traffic left it (at
	// a promotion, a rollback or the first initialization): a data plane that applies a route
	// change late still sends requests to it meanwhile. Default: 30s.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	ScaleDownDelay *metav1.Duration `json:"scaleDownDelay,omitempty"`

	// rollback says how traffic goes back to the primary when a rollout fails or is aborted.
	// Default: all of it at once.
	// +optional
	Rollback *Rollback `json:"rollback,omitempty"`

	// group releases this Rollout as one with the other Rollouts of its namespace that name
	// the same group (a frontend and its backend, each in its own file in Git): each member's
	// canary takes traffic only after the members it comes after, every member waits at the
	// end of its steps until the others under way have passed theirs and then all promote, and
	// a failure of any member rolls back every member whose rollout had started.
	// +optional
	Group *Group `json:"group,omitempty"`
}

// SessionAffinity is session affinity by cookie.
type SessionAffinity struct {
	// cookieName is the cookie that marks a client as served by the canary. Default:
	// tranche-canary.
	// +optional
	// +kubebuilder:default="tranche-canary"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`
	CookieName string `json:"cookieName,omitempty"`

	// maxAge is how long a client keeps the cookie. Default: 24h.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="sessionAffinity.maxAge must be at least 1s"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// The kinds of workload a Rollout can target.
const (
	KindDeployment = "Deployment"
	KindDaemonSet  = "DaemonSet"
)

// TargetRef points at the workload a Rollout manages, in the Rollout's namespace.
type TargetRef struct {
	// apiVersion of the target. Default and only value: apps/v1.
	// +optional
	// +kubebuilder:default="apps/v1"
	// +kubebuilder:validation:Enum=apps/v1
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the target: Deployment or DaemonSet. The primary is of the same kind. A
	// DaemonSet runs a pod on every node it may schedule on, the canary's as the primary's;
	// while no rollout runs, Tranche parks the canary with a nodeSelector no node has
	// (NodeSelectorParked), as it scales a Deployment to zero.
	// +required
	// +kubebuilder:validation:Enum=Deployment;DaemonSet
	Kind string `json:"kind"`

	// name of the target. It must be a DNS label of at most 55 characters, because the
	// Services <name>-primary and <name>-canary are derived from it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="targetRef.name must be a DNS label (lower case letters, digits and '-', starting with a letter)"
	// +kubebuilder:validation:XValidation:rule="size(self) <= 55",message="targetRef.name must be at most 55 characters: Tranche derives <name>-primary and <name>-canary from it"
	Name string `json:"name"`
}

// NotificationRef subscribes a Rollout to a NotificationProvider.
type NotificationRef struct {
	// providerRef names the NotificationProvider. Default namespace: the Rollout's.
	// +required
	ProviderRef NamespacedObjectReference `json:"providerRef"`

	// severity is the least severe news sent: Info sends everything (started, step
	// reached, waiting for approval, promoted, and all errors); Error sends only rollbacks,
	// aborts, failing analysis and bad configuration. Default: Info.
	// +optional
	// +kubebuilder:default=Info
	Severity Severity `json:"severity,omitempty"`
}

// Severity ranks notifications.
// +kubebuilder:validation:Enum=Info;Error
type Severity string

// Severities a Rollout can subscribe to.
const (
	SeverityInfo  Severity = "Info"
	SeverityError Severity = "Error"
)

// RolloutStatus is what the controller observed and decided.
type RolloutStatus struct {
	// observedGeneration is the metadata.generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is where the rollout is in its lifecycle.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// stableRevision is the pod-template hash of the promoted version (running as primary).
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`

	// canaryRevision is the pod-template hash of the version under test.
	// +optional
	CanaryRevision string `json:"canaryRevision,omitempty"`

	// currentStep is the index in spec.steps of the step being walked.
	// +optional
	CurrentStep int32 `json:"currentStep"`

	// canaryWeight is the percent of traffic the data plane was last told to send to the
	// canary.
	// +optional
	CanaryWeight int32 `json:"canaryWeight"`

	// stableReplicas is the primary's replica count when the current rollout began: what
	// carried all traffic then. A paced rollback gives the primary each larger share only once
	// that share of them is ready.
	// +optional
	StableReplicas int32 `json:"stableReplicas,omitempty"`

	// primaryMinReplicas, while a paced rollback waits for the primary's replicas, is the
	// least the primary's copy of the target's autoscaler keeps; 0 otherwise.
	// +optional
	PrimaryMinReplicas int32 `json:"primaryMinReplicas,omitempty"`

	// stepsPassed is true once every step of the rollout under way has passed: it promotes
	// when the ConfirmPromotion webhooks and its group let it.
	// +optional
	StepsPassed bool `json:"stepsPassed,omitempty"`

	// failedChecks counts the failed analysis runs of the current rollout.
	// +optional
	FailedChecks int32 `json:"failedChecks,omitempty"`

	// rolloutStartedAt is when the rollout of canaryRevision started.
	// +optional
	RolloutStartedAt *metav1.Time `json:"rolloutStartedAt,omitempty"`

	// stepStartedAt is when the data plane was seen routing as the current step asks (or, in
	// a paced rollback, as the current weight on the way back asks; the weight a rollback
	// begins at counts as held); the hold counts from here. Unset while the routes are being
	// changed.
	// +optional
	StepStartedAt *metav1.MicroTime `json:"stepStartedAt,omitempty"`

	// routesSetAt is when Tranche began telling the data plane the split it wants now, while
	// the data plane has not yet said it back; unset once it has. A data plane that does not
	// say it back within progressDeadline rolls the rollout back.
	// +optional
	RoutesSetAt *metav1.Time `json:"routesSetAt,omitempty"`

	// scaleDownAt is when the canary, which no longer gets traffic, is scaled to zero:
	// spec.scaleDownDelay after traffic left it.
	// +optional
	ScaleDownAt *metav1.Time `json:"scaleDownAt,omitempty"`

	// waitingSince is when the rollout started waiting for something outside it (the canary
	// to become ready, a gate to open); progressDeadline counts from here.
	// +optional
	WaitingSince *metav1.Time `json:"waitingSince,omitempty"`

	// lastAnalysisAt is when the analysis last ran.
	// +optional
	LastAnalysisAt *metav1.MicroTime `json:"lastAnalysisAt,omitempty"`

	// inconclusiveRuns counts the analysis runs in a row that had no data.
	// +optional
	InconclusiveRuns int32 `json:"inconclusiveRuns,omitempty"`

	// handledRequests holds the last request of each kind the controller acted on, so that
	// a request is acted on once however often it is read.
	// +optional
	HandledRequests HandledRequests `json:"handledRequests,omitempty"`

	// target is what the controller last saw of the target Deployment: clients compare its
	// generation with the target's to know whether the revisions above are about the
	// target's latest spec.
	// +optional
	Target TargetStatus `json:"target,omitempty"`

	// message says in a sentence what the rollout is doing or waiting for.
	// +optional
	Message string `json:"message,omitempty"`

	// lastChecks holds the latest results of each metric, newest first, ten per metric at most.
	// +optional
	// +listType=atomic
	LastChecks []CheckResult `json:"lastChecks,omitempty"`

	// history holds the latest rollouts, newest first, ten at most: when each step held and
	// how each ended, so that a past release can be replayed against another analysis
	// (kubectl tranche replay).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	History []RolloutRecord `json:"history,omitempty"`

	// conditions: Ready, Reconciling, Stalled (kstatus), Promoted and Analysis.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TargetStatus is what the controller last saw of the target Deployment.
type TargetStatus struct {
	// generation is the target's metadata.generation the controller last saw.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// revision is the revision of the target's pod template at that generation.
	// +optional
	Revision string `json:"revision,omitempty"`
	// declaredReplicas is the replica count the target's owner (Git, kubectl scale) last
	// gave it, which the primary runs at. It is kept here because the target's own count is
	// Tranche's to change: zero while no rollout is under way. Unset while an autoscaler
	// scales the target.
	// +optional
	DeclaredReplicas int32 `json:"declaredReplicas,omitempty"`
	// autoscaler names the HorizontalPodAutoscaler that scales the target; the primary has
	// its own copy of it, named as the primary.
	// +optional
	Autoscaler string `json:"autoscaler,omitempty"`
}

// HandledRequests holds the tokens of the requests the controller acted on last.
type HandledRequests struct {
	// promote is the token of the last promote request.
	// +optional
	Promote string `json:"promote,omitempty"`
	// abort is the token of the last abort request.
	// +optional
	Abort string `json:"abort,omitempty"`
	// retry is the token of the last retry request.
	// +optional
	Retry string `json:"retry,omitempty"`
	// undo is the token of the last undo request.
	// +optional
	Undo string `json:"undo,omitempty"`
}

// Phase is a step of a Rollout's lifecycle.
// +kubebuilder:validation:Enum=Initializing;Initialized;Progressing;WaitingApproval;Promoting;Succeeded;Failed;Aborted;Paused
type Phase string

// The phases of a Rollout.
const (
	PhaseInitializing    Phase = "Initializing"
	PhaseInitialized     Phase = "Initialized"
	PhaseProgressing     Phase = "Progressing"
	PhaseWaitingApproval Phase = "WaitingApproval"
	PhasePromoting       Phase = "Promoting"
	PhaseSucceeded       Phase = "Succeeded"
	PhaseFailed          Phase = "Failed"
	PhaseAborted         Phase = "Aborted"
	PhasePaused          Phase = "Paused"
)

// UnderWay reports whether a rollout is walking its steps in this phase: then it can be
// paused, promoted at a gate or aborted.
func (p Phase) UnderWay() bool {
	return p == PhaseProgressing || p == PhaseWaitingApproval || p == PhasePaused
}

// CheckResult is one evaluation of one metric.
type CheckResult struct {
	// metric is the name of the metric in spec.analysis.metrics.
	Metric string `json:"metric"`

	// value is the measured value as text; empty when the query returned no data.
	// +optional
	Value string `json:"value,omitempty"`

	// verdict of the judge.
	Verdict Verdict `json:"verdict"`

	// message explains a verdict that is not Pass: a query error, a webhook's answer.
	// +optional
	Message string `json:"message,omitempty"`

	// final is true when the verdict holds for the rest of the step: a Compare test reached
	// the evidence it needs. A final Fail rolls back at once, whatever the failure limit.
	// +optional
	Final bool `json:"final,omitempty"`

	// dryRun is true when the check is a dry run: recorded and shown, never acted on.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`

	// needs is how long into the step a Compare test that is still Undecided is expected to
	// take to reach a verdict at the traffic seen so far, when the judge can tell.
	// +optional
	Needs *metav1.Duration `json:"needs,omitempty"`

	// at is when the check ran.
	At metav1.MicroTime `json:"at"`
}

// Verdict is a judge's answer about one metric.
// +kubebuilder:validation:Enum=Pass;Fail;Inconclusive;Waiting;Undecided
type Verdict string

// The verdicts of a check. Inconclusive (no data, NaN) never counts as a pass.
const (
	VerdictPass         Verdict = "Pass"
	VerdictFail         Verdict = "Fail"
	VerdictInconclusive Verdict = "Inconclusive"
	// VerdictWaiting: a Compare metric without enough requests yet, whose policy is to wait
	// (or pause): the run neither passes nor counts as inconclusive.
	VerdictWaiting Verdict = "Waiting"
	// VerdictUndecided: a Compare test with enough requests that has reached neither of its
	// bounds. While the step holds it is no failure; when the hold ends, the metric's
	// compare.undecided policy says what it means.
	VerdictUndecided Verdict = "Undecided"
)

// +kubebuilder:object:root=true

// RolloutList is a list of Rollouts.
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}
