package jws_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"threadsfunctions.dev/shared/jws"
)

func certPEM(t *testing.T, pub, priv any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func enc(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	in := enc(t, map[string]string{"alg": "RS256", "kid": kid}) + "." + enc(t, map[string]string{"sub": "s"})
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestX509KeySet: the certificates-by-kid format Firebase publishes. Usable
// RSA certificates are kept; anything else is skipped, and a set without
// any usable key is "keys unavailable", not the token's fault.
func TestX509KeySet(t *testing.T) {
	t.Parallel()
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		certs map[string]string
		kid   string
		want  error
	}{
		{"rsa certificate", map[string]string{"k1": certPEM(t, &good.PublicKey, good)}, "k1", nil},
		{"other entries skipped", map[string]string{"k1": certPEM(t, &good.PublicKey, good), "ec": certPEM(t, &ec.PublicKey, ec), "junk": "not PEM", "weak": certPEM(t, &weak.PublicKey, weak)}, "k1", nil},
		{"unknown kid", map[string]string{"k1": certPEM(t, &good.PublicKey, good)}, "k2", jws.ErrInvalidToken},
		{"no usable key", map[string]string{"ec": certPEM(t, &ec.PublicKey, ec), "weak": certPEM(t, &weak.PublicKey, weak)}, "k1", jws.ErrKeysUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_ = json.NewEncoder(w).Encode(tc.certs)
			}))
			t.Cleanup(srv.Close)
			var claims struct{ Sub string }
			err := jws.NewKeySet(srv.URL, jws.X509, nil).Verify(t.Context(), signWith(t, good, tc.kid), &claims)
			if tc.want == nil {
				if err != nil || claims.Sub != "s" {
					t.Fatalf("Verify = %v (sub %q), want nil (sub s)", err, claims.Sub)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeUnsigned(t *testing.T) {
	t.Parallel()
	claims := enc(t, map[string]string{"sub": "s"})
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"alg none", enc(t, map[string]string{"alg": "none"}) + "." + claims + ".", true},
		{"signed alg", enc(t, map[string]string{"alg": "RS256"}) + "." + claims + ".", false},
		{"alg none with a signature", enc(t, map[string]string{"alg": "none"}) + "." + claims + ".c2ln", false},
		{"crit header", enc(t, map[string]any{"alg": "none", "crit": []string{"x"}}) + "." + claims + ".", false},
		{"two segments", enc(t, map[string]string{"alg": "none"}) + "." + claims, false},
		{"claims not JSON", enc(t, map[string]string{"alg": "none"}) + ".bm90IGpzb24.", false},
	}
	for _, tc := range tests {
		var got struct{ Sub string }
		err := jws.DecodeUnsigned(tc.token, &got)
		if tc.ok != (err == nil) || (tc.ok && got.Sub != "s") {
			t.Errorf("%s: DecodeUnsigned = %v (sub %q), want ok=%v", tc.name, err, got.Sub, tc.ok)
		}
		if err != nil && !errors.Is(err, jws.ErrInvalidToken) {
			t.Errorf("%s: error %v does not wrap ErrInvalidToken", tc.name, err)
		}
	}
}
