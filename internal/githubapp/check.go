package githubapp

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v88/github"
)

// CheckPrivateKey says what is wrong with a GitHub App private key, in
// terms of what to do about it: GitHub hands out RSA keys in PEM, and the
// usual mistakes are another kind of key, a public key or an SSH key.
func CheckPrivateKey(raw []byte) error {
	const fix = "download a private key (.pem) from the GitHub App's settings page, under Private keys"
	block, _ := pem.Decode(raw)
	if block == nil {
		return fmt.Errorf("not a PEM file (no -----BEGIN ... PRIVATE KEY----- block); %s", fix)
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return fmt.Errorf("the key is encrypted with a passphrase; GitHub App keys are not: %s", fix)
	case "OPENSSH PRIVATE KEY":
		return fmt.Errorf("this is an OpenSSH key, not a GitHub App key; %s", fix)
	case "CERTIFICATE":
		return fmt.Errorf("this is a certificate, not a private key; %s", fix)
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return fmt.Errorf("this is a public key, not a private key; %s", fix)
	default:
		return fmt.Errorf("PEM block %q is not a private key; %s", block.Type, fix)
	}
	if err != nil {
		return fmt.Errorf("PEM block %q does not parse: %v; %s", block.Type, err, fix)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("this RSA key has %d bits; GitHub App keys have 2048 or more: %s", k.N.BitLen(), fix)
		}
		return nil
	case *ecdsa.PrivateKey:
		return fmt.Errorf("GitHub App keys are RSA; this is an EC key: %s", fix)
	case ed25519.PrivateKey:
		return fmt.Errorf("GitHub App keys are RSA; this is an Ed25519 key: %s", fix)
	}
	return fmt.Errorf("GitHub App keys are RSA; this is a %T: %s", key, fix)
}

// Identity is what GitHub says about the App tfpr authenticates as.
type Identity struct {
	Slug          string
	Installations int
}

// CheckAuth signs an App JWT and asks GitHub who the App is and where it is
// installed: a wrong App id or key, or an App installed nowhere, fails
// here rather than at the first webhook.
func (a *App) CheckAuth(ctx context.Context) (Identity, error) {
	apps, err := a.client(a.apps)
	if err != nil {
		return Identity{}, err
	}
	app, _, err := apps.Apps.Get(ctx, "")
	if err != nil {
		var ge *github.ErrorResponse
		if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusUnauthorized {
			return Identity{}, fmt.Errorf("GitHub refused the App JWT (401): check that TFPR_GITHUB_APP_ID %d is the App whose private key TFPR_GITHUB_PRIVATE_KEY_FILE holds", a.opts.AppID)
		}
		return Identity{}, fmt.Errorf("authenticate as GitHub App %d: %w", a.opts.AppID, err)
	}
	insts, _, err := apps.Apps.ListInstallations(ctx, &github.ListOptions{PerPage: 100})
	if err != nil {
		return Identity{}, fmt.Errorf("list the App's installations: %w", err)
	}
	id := Identity{Slug: app.GetSlug(), Installations: len(insts)}
	if id.Installations == 0 {
		return id, fmt.Errorf("GitHub App %q is installed nowhere: install it on the repository tfpr should act on", id.Slug)
	}
	return id, nil
}
