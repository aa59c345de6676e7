package threadstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The newer post features (text attachments, spoilers, ghost posts, GIFs,
// geo-gating): their decoded form, as Post carries it, and their checks.

// TextAttachment is a post's text_attachment: long-form text under the
// post.
type TextAttachment struct {
	// Plaintext is the long text, 1 to 10,000 characters.
	Plaintext string
	// LinkAttachmentURL is its link_attachment_url, "" if none.
	LinkAttachmentURL string
	// Styling are its text_with_styling_info ranges, sorted by offset.
	Styling []TextStyling
}

// TextStyling styles Length characters (runes) of a text attachment's
// plaintext from Offset. Styles are among "bold", "italic", "highlight",
// "underline" and "strikethrough", in the order given.
type TextStyling struct {
	Offset, Length int
	Styles         []string
}

// TextEntity is an entry of a post's text_entities: Length characters
// (runes) of the post's text from Offset. EntityType is "SPOILER".
type TextEntity struct {
	EntityType     string
	Offset, Length int
}

// GIFAttachment is a post's gif_attachment.
type GIFAttachment struct {
	// GIFID is the GIF's id at its provider; Provider is "GIPHY".
	GIFID, Provider string
}

// Limits of the newer features.
const (
	maxPlaintextRunes = 10000
	maxTextEntities   = 10
	maxCountryCodes   = 50
	// maxJSONDepth bounds the nesting of a JSON parameter.
	maxJSONDepth = 8
)

// textStyles are the styling_info values of a text attachment.
var textStyles = []string{"bold", "italic", "highlight", "underline", "strikethrough"}

// features are a container's newer features, decoded from its (checked)
// parameters.
type features struct {
	textAttachment *TextAttachment
	textEntities   []TextEntity
	gif            *GIFAttachment
	countries      []string
}

// parseFeatures decodes and checks the JSON and list parameters of the
// newer features: text_attachment, text_entities (against text),
// gif_attachment and allowlisted_country_codes. On failure it returns the
// code 100 answer.
func parseFeatures(p url.Values) (features, apiError, bool) {
	var f features
	var err error
	if js := p.Get("text_attachment"); js != "" {
		if f.textAttachment, err = parseTextAttachment(js); err != nil {
			return f, badParam("Param text_attachment %v", err), true
		}
	}
	if js := p.Get("text_entities"); js != "" {
		if f.textEntities, err = parseTextEntities(js, p.Get("text")); err != nil {
			return f, badParam("Param text_entities %v", err), true
		}
	}
	if js := p.Get("gif_attachment"); js != "" {
		if f.gif, err = parseGIF(js); err != nil {
			return f, badParam("Param gif_attachment %v", err), true
		}
	}
	if v := p.Get("allowlisted_country_codes"); v != "" {
		if f.countries, err = parseCountryCodes(v); err != nil {
			return f, badParam("Param allowlisted_country_codes %v", err), true
		}
	}
	return f, apiError{}, false
}

// parseTextAttachment decodes and checks a text_attachment.
func parseTextAttachment(js string) (*TextAttachment, error) {
	v, err := strictJSON(js)
	if err != nil {
		return nil, err
	}
	obj, err := object(v, []string{"plaintext"}, []string{"link_attachment_url", "text_with_styling_info"})
	if err != nil {
		return nil, err
	}
	ta := &TextAttachment{}
	var ok bool
	if ta.Plaintext, ok = obj["plaintext"].(string); !ok {
		return nil, errors.New("needs plaintext as a string")
	}
	n := utf8.RuneCountInString(ta.Plaintext)
	if n < 1 || n > maxPlaintextRunes {
		return nil, fmt.Errorf("plaintext must be 1 to %d characters long, not %d", maxPlaintextRunes, n)
	}
	if raw, set := obj["link_attachment_url"]; set {
		if ta.LinkAttachmentURL, ok = raw.(string); !ok || !httpURL(ta.LinkAttachmentURL) {
			return nil, errors.New("link_attachment_url must be an absolute http(s) URL")
		}
	}
	if raw, set := obj["text_with_styling_info"]; set {
		list, ok := raw.([]any)
		if !ok || len(list) == 0 {
			return nil, errors.New("text_with_styling_info must be a list of at least one range")
		}
		var ranges []span
		for i, item := range list {
			o, err := object(item, []string{"offset", "length", "styling_info"}, nil)
			if err != nil {
				return nil, fmt.Errorf("text_with_styling_info[%d] %v", i, err)
			}
			r, err := rangeOf(o, n, "plaintext")
			if err != nil {
				return nil, fmt.Errorf("text_with_styling_info[%d] %v", i, err)
			}
			styles, err := stylingInfo(o["styling_info"])
			if err != nil {
				return nil, fmt.Errorf("text_with_styling_info[%d] %v", i, err)
			}
			ranges = append(ranges, r)
			ta.Styling = append(ta.Styling, TextStyling{Offset: r.offset, Length: r.length, Styles: styles})
		}
		if err := disjoint(ranges); err != nil {
			return nil, fmt.Errorf("text_with_styling_info %v", err)
		}
		slices.SortFunc(ta.Styling, func(a, b TextStyling) int { return a.Offset - b.Offset })
	}
	return ta, nil
}

// stylingInfo checks a styling_info list: one or more known styles, none
// repeated.
func stylingInfo(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("styling_info must be a list of at least one style")
	}
	var out []string
	for _, s := range list {
		style, ok := s.(string)
		if !ok || !slices.Contains(textStyles, style) {
			return nil, fmt.Errorf("styling_info values must be among %s", strings.Join(textStyles, ", "))
		}
		if slices.Contains(out, style) {
			return nil, fmt.Errorf("styling_info has %s twice", style)
		}
		out = append(out, style)
	}
	return out, nil
}

// parseTextEntities decodes and checks a text_entities list against the
// post's text.
func parseTextEntities(js, text string) ([]TextEntity, error) {
	v, err := strictJSON(js)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || len(list) < 1 || len(list) > maxTextEntities {
		return nil, fmt.Errorf("must be a JSON list of 1 to %d entities", maxTextEntities)
	}
	n := utf8.RuneCountInString(text)
	var out []TextEntity
	var ranges []span
	for i, item := range list {
		o, err := object(item, []string{"entity_type", "offset", "length"}, nil)
		if err != nil {
			return nil, fmt.Errorf("[%d] %v", i, err)
		}
		if t, _ := o["entity_type"].(string); t != "SPOILER" {
			return nil, fmt.Errorf("[%d] entity_type must be SPOILER", i)
		}
		r, err := rangeOf(o, n, "text")
		if err != nil {
			return nil, fmt.Errorf("[%d] %v", i, err)
		}
		ranges = append(ranges, r)
		out = append(out, TextEntity{EntityType: "SPOILER", Offset: r.offset, Length: r.length})
	}
	if err := disjoint(ranges); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b TextEntity) int { return a.Offset - b.Offset })
	return out, nil
}

// parseGIF decodes and checks a gif_attachment.
func parseGIF(js string) (*GIFAttachment, error) {
	v, err := strictJSON(js)
	if err != nil {
		return nil, err
	}
	obj, err := object(v, []string{"gif_id", "provider"}, nil)
	if err != nil {
		return nil, err
	}
	id, ok := obj["gif_id"].(string)
	if !ok || id == "" {
		return nil, errors.New("gif_id must be a non-empty string")
	}
	if p, _ := obj["provider"].(string); p != "GIPHY" {
		return nil, errors.New("provider must be GIPHY")
	}
	return &GIFAttachment{GIFID: id, Provider: "GIPHY"}, nil
}

// parseCountryCodes reads allowlisted_country_codes in either of the
// readings seen (the format is unconfirmed): a comma-separated list (US,CA)
// or a JSON list of strings (["US","CA"]). Each code is two upper-case
// ASCII letters, none repeated, 1 to 50 of them.
func parseCountryCodes(v string) ([]string, error) {
	var codes []string
	if strings.HasPrefix(v, "[") {
		js, err := strictJSON(v)
		if err != nil {
			return nil, err
		}
		list, _ := js.([]any)
		for _, c := range list {
			s, ok := c.(string)
			if !ok {
				return nil, errors.New("must list country codes as strings")
			}
			codes = append(codes, s)
		}
	} else {
		codes = strings.Split(v, ",")
	}
	if len(codes) < 1 || len(codes) > maxCountryCodes {
		return nil, fmt.Errorf("must list 1 to %d country codes", maxCountryCodes)
	}
	for i, c := range codes {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return nil, fmt.Errorf("has %q: a country code is two upper-case letters (ISO 3166-1 alpha-2)", c)
		}
		if slices.Contains(codes[:i], c) {
			return nil, fmt.Errorf("has %s twice", c)
		}
	}
	return codes, nil
}

// span is a range of runes.
type span struct{ offset, length int }

// rangeOf reads an object's offset (≥ 0) and length (≥ 1), a range that
// must lie inside a text of n runes (named what).
func rangeOf(o map[string]any, n int, what string) (span, error) {
	off, ok := integer(o["offset"])
	if !ok || off < 0 {
		return span{}, errors.New("offset must be a whole number ≥ 0")
	}
	length, ok := integer(o["length"])
	if !ok || length < 1 {
		return span{}, errors.New("length must be a whole number ≥ 1")
	}
	if off > n || length > n-off {
		return span{}, fmt.Errorf("range %d+%d lies outside the %s (%d characters)", off, length, what, n)
	}
	return span{off, length}, nil
}

// disjoint checks that no two ranges overlap.
func disjoint(ranges []span) error {
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b span) int { return a.offset - b.offset })
	for i := 1; i < len(sorted); i++ {
		if prev := sorted[i-1]; sorted[i].offset < prev.offset+prev.length {
			return fmt.Errorf("has overlapping ranges %d+%d and %d+%d", prev.offset, prev.length, sorted[i].offset, sorted[i].length)
		}
	}
	return nil
}

// integer returns a JSON number (as strictJSON decodes it) that is a whole
// number written without fraction or exponent.
func integer(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num.String())
	return n, err == nil
}

// httpURL reports whether s is an absolute http or https URL.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// object checks that v is a JSON object with every key of required and no
// key outside required and optional (keys match exactly, case included).
func object(v any, required, optional []string) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			return nil, fmt.Errorf("has the unknown key %q", k)
		}
	}
	for _, k := range required {
		if _, ok := obj[k]; !ok {
			return nil, fmt.Errorf("needs the key %q", k)
		}
	}
	return obj, nil
}

// strictJSON decodes exactly one JSON value, more strictly than
// encoding/json: a key repeated in an object, data after the value, or
// nesting deeper than maxJSONDepth is an error. Objects decode to
// map[string]any, lists to []any, numbers to json.Number.
func strictJSON(js string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	v, err := strictValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("must be a single JSON value")
	}
	return v, nil
}

var errNotJSON = errors.New("must be valid JSON")

func strictValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, errNotJSON
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, errNotJSON
			}
			k, _ := kt.(string)
			if _, dup := obj[k]; dup {
				return nil, fmt.Errorf("has the key %q twice", k)
			}
			if obj[k], err = strictValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, errNotJSON
		}
		return obj, nil
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := strictValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, errNotJSON
		}
		return list, nil
	case json.Delim('}'), json.Delim(']'):
		return nil, errNotJSON
	}
	return tok, nil
}
