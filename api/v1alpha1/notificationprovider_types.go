package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// NotificationProvider is a place Rollouts send news to: a Slack or Microsoft Teams channel,
// or any HTTP endpoint that takes JSON. The endpoint's URL is a secret and lives in a Secret,
// never in the spec.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tnp,categories=tranche
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Channel",type=string,JSONPath=`.spec.channel`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NotificationProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where and how to send.
	// +required
	Spec NotificationProviderSpec `json:"spec"`
}

// NotificationProviderSpec describes one notification endpoint.
// +kubebuilder:validation:XValidation:rule="self.type == 'Slack' || (!has(self.channel) && !has(self.username) && !has(self.iconEmoji))",message="channel, username and iconEmoji are Slack options: remove them or use type Slack"
type NotificationProviderSpec struct {
	// type of the endpoint: Slack (incoming webhook, Block Kit messages), MSTeams (incoming
	// webhook) or Webhook (the event as JSON).
	// +required
	Type NotificationType `json:"type"`

	// secretRef names a Secret in the provider's namespace whose key address holds the
	// endpoint's URL.
	// +required
	SecretRef LocalObjectReference `json:"secretRef"`

	// channel overrides the incoming webhook's default Slack channel, such as #releases.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:Pattern=`^[#@]?[a-z0-9][-a-z0-9_.]*$`
	Channel string `json:"channel,omitempty"`

	// username the Slack message is posted as. Default: the incoming webhook's.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	Username string `json:"username,omitempty"`

	// iconEmoji of the Slack message, such as :rocket:.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^:[a-z0-9_+-]+:$`
	IconEmoji string `json:"iconEmoji,omitempty"`

	// timeout of one delivery attempt. Default: 10s.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('1m')",message="timeout must be between 0s (excluded) and 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// NotificationType is the kind of a notification endpoint.
// +kubebuilder:validation:Enum=Slack;MSTeams;Webhook
type NotificationType string

// The notification endpoint types.
const (
	NotificationSlack   NotificationType = "Slack"
	NotificationMSTeams NotificationType = "MSTeams"
	NotificationWebhook NotificationType = "Webhook"
)

// +kubebuilder:object:root=true

// NotificationProviderList is a list of NotificationProviders.
type NotificationProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NotificationProvider `json:"items"`
}
