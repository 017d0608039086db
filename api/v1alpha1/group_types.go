package v1alpha1

// Group makes this Rollout a member of a release of several services.
type Group struct {
	// name is the group's name: the Rollouts of the namespace that give the same name are its
	// members.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// after lists the members whose rollout goes first: this member's canary takes no traffic
	// while one of them has a release not yet started, or under way and short of the steps
	// given. A member with no release under way is no reason to wait.
	// +optional
	// +listType=map
	// +listMapKey=rollout
	// +kubebuilder:validation:MaxItems=8
	After []GroupOrder `json:"after,omitempty"`
}

// GroupOrder is a member this one comes after.
type GroupOrder struct {
	// rollout is the name of a Rollout of the same group and namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Rollout string `json:"rollout"`

	// steps is how many of that member's steps must have passed before this member's canary
	// takes traffic. Default: all of them (that member then waits to promote with the group).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Steps *int32 `json:"steps,omitempty"`
}
