package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The signing key is read as openssl writes one, PKCS #8 or SEC 1; another curve is refused
// with how to make a right one.
func TestLoadSigningKey(t *testing.T) {
	write := func(kind string, der []byte) string {
		file := filepath.Join(t.TempDir(), "key.pem")
		require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
		return file
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for kind, der := range map[string][]byte{"PRIVATE KEY": pkcs8, "EC PRIVATE KEY": sec1} {
		loaded, err := loadSigningKey(write(kind, der))
		require.NoError(t, err, kind)
		assert.True(t, loaded.key.Equal(key), kind)
		assert.Len(t, loaded.hint, 64, "the hex SHA-256 of the public key")
	}

	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384, err := x509.MarshalPKCS8PrivateKey(other)
	require.NoError(t, err)
	_, err = loadSigningKey(write("PRIVATE KEY", p384))
	assert.ErrorContains(t, err, "is not an ECDSA P-256 private key (openssl ecparam -name prime256v1 -genkey makes one)")
	_, err = loadSigningKey(write("CERTIFICATE", []byte("x")))
	assert.ErrorContains(t, err, "is not an ECDSA P-256 private key")
}
