package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/archwayhq/archway/internal/imagesign"
	"github.com/archwayhq/archway/internal/provision"
)

// runSetup provisions the host (internal/provision) and prints one line per step;
// then, unless the user gives a key (ARCHWAY_SIGNING_KEY), it makes sure the signing
// key pair exists under $ARCHWAY_HOME/signing.
func runSetup(ctx context.Context, o Options) error {
	p := &provision.Provisioner{Cfg: o.Provision, Run: provision.ExecRunner{}, Out: os.Stdout, Getenv: os.Getenv}
	if _, err := p.Setup(ctx); err != nil {
		return err
	}
	if o.SigningKey != "" {
		k, err := loadSigningKey(o)
		if err != nil {
			return err
		}
		fmt.Printf("signing key: %s (given)\n", k.Source)
		return nil
	}
	dir := signingDir(o)
	created, err := imagesign.EnsureKeyPair(dir, o.SigningPassword)
	if err != nil {
		return fmt.Errorf("signing key %s: %v", filepath.Join(dir, imagesign.PrivateKeyFile), err)
	}
	what := "present"
	if created {
		what = "created"
	}
	fmt.Printf("signing key: %s %s (public key %s)\n", filepath.Join(dir, imagesign.PrivateKeyFile), what, filepath.Join(dir, imagesign.PublicKeyFile))
	return nil
}
