package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// MeshIdentity is a workload's certificate files as Istio's agent writes them for a
// proxyless gRPC app: cert-chain.pem, key.pem and the mesh's root-cert.pem in Dir.
type MeshIdentity struct {
	Dir string
	// SPIFFE is the identity the certificate names, spiffe://<trust domain>/ns/<ns>/sa/<sa>.
	SPIFFE string
}

// MeshCA is a root of trust standing in for istiod's CA: it signs workload certificates
// whose URI SAN is the workload's SPIFFE identity, as Istio's do. (istiod's own CA hands
// certificates out to its agents over a signed CSR; the tests have no agent, so they mint
// them here and put them where an agent would.)
type MeshCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	rootPEM []byte
}

// NewMeshCA makes a root valid for a day.
func NewMeshCA() (*MeshCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"cluster.local"}, CommonName: "tranche test mesh root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &MeshCA{cert: cert, key: key, rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Issue writes a workload identity for service account sa of namespace into dir.
func (ca *MeshCA) Issue(dir, namespace, sa string) (MeshIdentity, error) {
	id := MeshIdentity{Dir: dir, SPIFFE: fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", namespace, sa)}
	uri, err := url.Parse(id.SPIFFE)
	if err != nil {
		return id, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return id, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return id, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{uri},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return id, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return id, err
	}
	files := map[string][]byte{
		"cert-chain.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":        pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"root-cert.pem":  ca.rootPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return id, err
		}
	}
	return id, nil
}
