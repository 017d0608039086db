package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// signatureMediaType is a Sigstore bundle's, as the artifact type of the signature pushed
// beside the image (as cosign pushes its bundles).
const signatureMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// signingKey is the user's ECDSA P-256 key, a Sigstore keypair: the image is signed with a
// key of the user's own, offline, with no certificate authority and no transparency log.
type signingKey struct {
	key *ecdsa.PrivateKey
	// hint names the key in the bundle: the hex SHA-256 of its public key (DER), which a
	// verifier maps to the public key it trusts.
	hint string
}

// loadSigningKey reads a PEM file holding an ECDSA P-256 private key (PKCS #8 or SEC 1).
func loadSigningKey(path string) (*signingKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block: give an ECDSA P-256 private key", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if err != nil || !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s is not an ECDSA P-256 private key (openssl ecparam -name prime256v1 -genkey makes one)", path)
	}
	return newSigningKey(ec)
}

func newSigningKey(key *ecdsa.PrivateKey) (*signingKey, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &signingKey{key: key, hint: hex.EncodeToString(sum[:])}, nil
}

func (k *signingKey) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *signingKey) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *signingKey) GetHint() []byte                { return []byte(k.hint) }
func (k *signingKey) GetKeyAlgorithm() string        { return "ECDSA" }
func (k *signingKey) GetPublicKey() crypto.PublicKey { return &k.key.PublicKey }

func (k *signingKey) GetPublicKeyPem() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// SignData signs the SHA-256 digest of data, and returns the signature and the digest.
func (k *signingKey) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	digest := sha256.Sum256(data)
	signature, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	return signature, digest[:], err
}

// signManifest is a Sigstore bundle (JSON) of a message signature over the image's manifest,
// whose digest is the image's: it verifies for that image and no other.
func signManifest(manifest []byte, key *signingKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no signing key")
	}
	bundle, err := sign.Bundle(&sign.PlainData{Data: manifest}, key, sign.BundleOptions{})
	if err != nil {
		return nil, fmt.Errorf("signing the image: %w", err)
	}
	return protojson.Marshal(bundle)
}
