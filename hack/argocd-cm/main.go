// Command argocd-cm prints the argocd-cm ConfigMap with Tranche's Argo CD customizations,
// made from the Lua files under config/argocd.
package main

import (
	"fmt"
	"os"

	"github.com/tranche-dev/tranche/config/argocd"
)

func main() {
	out, err := argocd.ConfigMap()
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-cm:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
