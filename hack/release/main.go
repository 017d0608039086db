// Command release cross-builds the kubectl plugin into one archive a platform, writes their
// checksums, and writes the krew manifest that installs them, from the template in
// config/krew. Run it from the module's root (make release does).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// platforms are the ones a release builds: what people run kubectl on.
var platforms = []platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var r release
	var only string
	var created int64
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.StringVar(&r.Version, "version", "", "The release's version (a tag such as v0.1.0).")
	fs.StringVar(&r.Out, "out", "bin/release", "Directory to write the archives, checksums.txt and tranche.yaml into; emptied first.")
	fs.StringVar(&r.URL, "url", "", "Where the archives will be downloaded from. Default: the GitHub release of -version.")
	fs.StringVar(&r.Template, "krew-template", "config/krew/tranche.yaml", "The krew manifest to fill in.")
	fs.StringVar(&only, "platforms", "", "Comma-separated os/arch pairs to build. Default: all of a release's.")
	fs.Int64Var(&created, "created", 0, "Time of the archives' files, in seconds since the epoch.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if r.Version == "" {
		return fmt.Errorf("-version is required: make release passes VERSION")
	}
	if r.URL == "" {
		r.URL = "https://github.com/tranche-dev/tranche/releases/download/" + r.Version
	}
	r.Platforms = platforms
	if only != "" {
		r.Platforms = nil
		for _, pair := range strings.Split(only, ",") {
			os, arch, ok := strings.Cut(strings.TrimSpace(pair), "/")
			if !ok {
				return fmt.Errorf("-platforms: %q is not os/arch", pair)
			}
			r.Platforms = append(r.Platforms, platform{os, arch})
		}
	}
	r.Created = time.Unix(created, 0).UTC()
	r.Build = buildPlugin
	return r.write()
}
