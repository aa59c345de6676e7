package signedrequest

import (
	"testing"
	"time"
)

// BenchmarkVerify is thDeauthorize's and thDataDeletion's check of Meta's
// signed_request, on a valid request.
func BenchmarkVerify(b *testing.B) {
	secret := []byte("bench-app-secret-0123456789abcdef")
	now := time.Unix(1767225600, 0)
	signed, err := Sign(map[string]any{
		"algorithm": "HMAC-SHA256", "user_id": "17841400000000001", "issued_at": now.Unix() - 30,
	}, secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(signed, secret, now, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBadSignature is the cost of refusing a forged request.
func BenchmarkVerifyBadSignature(b *testing.B) {
	now := time.Unix(1767225600, 0)
	signed, err := Sign(map[string]any{
		"algorithm": "HMAC-SHA256", "user_id": 17841400000000001, "issued_at": now.Unix(),
	}, []byte("some-other-secret"))
	if err != nil {
		b.Fatal(err)
	}
	secret := []byte("bench-app-secret-0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(signed, secret, now, time.Hour); err == nil {
			b.Fatal("forged request accepted")
		}
	}
}
