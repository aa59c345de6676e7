package jws

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// SignRS256 returns header and claims, each marshalled to JSON, as a token in
// compact serialization signed with RS256 by key: what Google's issuers do,
// for the fakes and tests that stand in for them (the functions themselves
// only verify).
func SignRS256(key *rsa.PrivateKey, header, claims any) (string, error) {
	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("jws: header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jws: claims: %w", err)
	}
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("jws: sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// EncodeUnsigned returns claims, marshalled to JSON, as an unsigned token
// (alg "none", empty signature): the form the Firebase Auth emulator issues
// ID tokens in, which DecodeUnsigned reads back. For the benchmark and tests
// that stand in for the emulator's sign-in.
func EncodeUnsigned(claims any) (string, error) {
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jws: claims: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(c) + ".", nil
}

// PublicJWK is key's entry in a JWK set (RFC 7517) under kid, as Google's
// OIDC certificate endpoint lists its RS256 keys; NewKeySet's JWKS format
// reads it back.
func PublicJWK(kid string, key *rsa.PublicKey) map[string]string {
	enc := base64.RawURLEncoding
	return map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": enc.EncodeToString(key.N.Bytes()),
		"e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}
}
