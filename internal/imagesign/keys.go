// Package imagesign signs and verifies container images the way cosign does, offline
// (no transparency log, no certificate authority): a cosign key pair, simple-signing
// signatures at repo:sha256-<hex>.sig, in-toto statements in DSSE envelopes at
// repo:sha256-<hex>.att and an SBOM at repo:sha256-<hex>.sbom. `cosign verify --key`,
// `cosign verify-attestation --key` and `cosign download sbom` read what it writes;
// its verifier reads what cosign writes.
//
// Registry access is go-containerregistry; signatures, DSSE and the key format are
// github.com/sigstore/sigstore (the library cosign itself uses for them).
package imagesign

import (
	"crypto"
	"crypto/elliptic"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/archwayhq/archway/internal/smallfile"
)

// Key file names under a key directory ($ARCHWAY_HOME/signing): cosign's own defaults.
const (
	PrivateKeyFile = "cosign.key"
	PublicKeyFile  = "cosign.pub"
)

// Key is a loaded private key: it signs, and verifies what it signed.
type Key struct {
	sv     signature.SignerVerifier
	PubPEM []byte
	Source string // where it came from, for messages
}

func passFunc(password []byte) cryptoutils.PassFunc {
	return func(bool) ([]byte, error) { return append([]byte{}, password...), nil }
}

// GenerateKeyPair makes an ECDSA P-256 key pair as `cosign generate-key-pair` does:
// the private key PKCS#8, encrypted with password (scrypt + secretbox, PEM type
// ENCRYPTED SIGSTORE PRIVATE KEY; an empty password still encrypts, as cosign's does).
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	return cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), passFunc(password))
}

// EnsureKeyPair creates dir/cosign.key and dir/cosign.pub unless the private key is
// there already; it reports whether it created them.
func EnsureKeyPair(dir string, password []byte) (bool, error) {
	priv := filepath.Join(dir, PrivateKeyFile)
	if _, err := os.Stat(priv); err == nil {
		k, err := LoadKeyFile(priv, password)
		if err != nil {
			return false, err
		}
		pub := filepath.Join(dir, PublicKeyFile)
		if _, err := os.Stat(pub); err != nil {
			return false, os.WriteFile(pub, k.PubPEM, 0o644)
		}
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	privPEM, pubPEM, err := GenerateKeyPair(password)
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(priv+".tmp", privPEM, 0o600); err != nil {
		return false, err
	}
	if err := os.WriteFile(filepath.Join(dir, PublicKeyFile), pubPEM, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(priv+".tmp", priv)
}

// LoadKeyFile reads a cosign private key file.
func LoadKeyFile(path string, password []byte) (*Key, error) {
	b, err := smallfile.Read(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %v", path, err)
	}
	return LoadKey(b, password, path)
}

// LoadKey parses a PEM private key (cosign's encrypted format, or plain PKCS#8/EC/RSA)
// decrypting it with password; source names it in errors.
func LoadKey(pemBytes, password []byte, source string) (*Key, error) {
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, passFunc(password))
	if err != nil {
		switch msg := err.Error(); {
		case strings.Contains(msg, "decryption failed"):
			return nil, fmt.Errorf("signing key %s: wrong passphrase (COSIGN_PASSWORD)", source)
		case strings.Contains(msg, "PEM decoding failed"):
			return nil, fmt.Errorf("signing key %s: not a PEM private key", source)
		default:
			return nil, fmt.Errorf("signing key %s: %v", source, err)
		}
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %v", source, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %v", source, err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %v", source, err)
	}
	return &Key{sv: sv, PubPEM: pubPEM, Source: source}, nil
}

// LoadPublicKey reads a PEM public key file (cosign.pub) as a verifier.
func LoadPublicKey(path string) (signature.Verifier, error) {
	b, err := smallfile.Read(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %v", path, err)
	}
	return ParsePublicKey(b, path)
}

// ParsePublicKey parses a PEM public key; source names it in errors.
func ParsePublicKey(pemBytes []byte, source string) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: not a PEM public key", source)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %v", source, err)
	}
	return v, nil
}

// Verifier is the key's public half.
func (k *Key) Verifier() signature.Verifier { return k.sv }
