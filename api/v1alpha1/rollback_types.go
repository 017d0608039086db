package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RollbackPace is how fast a failed or aborted rollout hands traffic back to the primary.
// +kubebuilder:validation:Enum=Instant;Steps
type RollbackPace string

const (
	// RollbackInstant sends all traffic to the primary at once.
	RollbackInstant RollbackPace = "Instant"
	// RollbackSteps lowers the canary's weight through rollback.weights.
	RollbackSteps RollbackPace = "Steps"
)

// Rollback is how a failed or aborted rollout hands traffic back to the primary. With pace
// Steps, the canary's weight goes down through weights, each held for hold once the data
// plane took it, and the primary takes each larger share only once it has the ready replicas
// that share needs (its share of the replicas it ran on when the rollout began, at least
// one). A canary that is not ready, a data plane that does not take a split, and steps that
// split by match or mirror hand everything back at once.
// +kubebuilder:validation:XValidation:rule="self.pace == 'Steps' || (!has(self.weights) && !has(self.hold))",message="rollback.weights and rollback.hold go with pace: Steps"
type Rollback struct {
	// pace is Instant (all traffic to the primary at once) or Steps. Default: Instant.
	// +optional
	// +kubebuilder:default=Instant
	Pace RollbackPace `json:"pace,omitempty"`

	// weights are the canary's weights on the way down, in percent, in any order: the
	// rollback walks those below the canary's weight when it began, highest first, then 0.
	// Default: the weights of the rollout's own steps.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=99
	Weights []int32 `json:"weights,omitempty"`

	// hold is how long each weight on the way down is held before the next. Default: 10s.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="rollback.hold must be at least 1s"
	Hold *metav1.Duration `json:"hold,omitempty"`
}
