package v1alpha1

// The names of the objects Tranche makes for a Rollout, all in its namespace and derived from
// its target's name. They live here, beside the types, because the controller, the providers,
// the analysis templates and the plugin all need them and none of them may import another.

// PrimarySuffix ends the name of the primary Deployment and of the primary Service, and the
// values of the primary's selector labels.
const PrimarySuffix = "-primary"

// CanarySuffix ends the name of the canary Service.
const CanarySuffix = "-canary"

// ServiceNames are the names of a Rollout's three Services: Apex is what clients call,
// Primary selects the stable pods, Canary the pods under test.
// +kubebuilder:object:generate=false
type ServiceNames struct {
	Apex, Primary, Canary string
}

// ServiceNames returns the names of the Rollout's Services.
func (ro *Rollout) ServiceNames() ServiceNames {
	name := ro.Spec.TargetRef.Name
	return ServiceNames{Apex: name, Primary: name + PrimarySuffix, Canary: name + CanarySuffix}
}

// PrimaryName is the name of the primary Deployment: the stable version Tranche runs.
func (ro *Rollout) PrimaryName() string {
	return ro.Spec.TargetRef.Name + PrimarySuffix
}
