// hack/build-traefik.sh puts this file in place of providers/dns/zz_gen_dns_providers.go in a
// copy of github.com/go-acme/lego/v5. The generated original imports every DNS provider lego
// has (about 150), and the Go module proxy refuses the zips of some of their SDKs. This registry
// keeps the three providers that need no SDK: ACME DNS challenges do not matter to a data plane
// under test, and Traefik only reaches lego's DNS providers through this function.

package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/providers/dns/httpreq"
	"github.com/go-acme/lego/v5/providers/dns/manual"
)

// NewDNSChallengeProviderByName returns the DNS challenge provider called name.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	switch name {
	case "exec":
		return exec.NewDNSProvider()
	case "httpreq":
		return httpreq.NewDNSProvider()
	case "manual":
		return manual.NewDNSProvider()
	default:
		return nil, fmt.Errorf("unrecognized DNS provider: %s (this Traefik was built with exec, httpreq and manual only)", name)
	}
}
