package bunstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

var objectSeeds = []string{
	`{}`, `null`, ` { "a" : 1 } `, `{"reviewer":"Rita","handWorkers":[{"name":"Bo","timestamp":"2026-01-01T00:00:00Z"}]}`,
	`{"n":-0.5e+10,"z":0,"big":1e400,"t":true,"f":false,"x":null,"l":[],"o":{}}`,
	`{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \ud800 \udc00x \ud800\u0041"}`,
	`{"bad":"\ud800\uzzzz"}`, `{"ctl":"a` + "\x01" + `"}`, `{"utf8":"` + "\xff\xfe ok é" + `"}`,
	`{"a":1,"a":2}`, `{"a":1}x`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a"}`, `[1]`, `"s"`, `{"a":[1,2,]}`,
	`{"deep":[[[[[[[[[[{"k":[]}]]]]]]]]]]}`, `{"k":"\u0000"}`,
}

// TestDecodeObjectMatchesEncodingJSON checks the fast miscInfo decoder
// against json.Unmarshal on valid, odd and invalid inputs.
func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, s := range objectSeeds {
		checkDecodeObject(t, s)
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add(s)
	}
	f.Fuzz(checkDecodeObject)
}

func checkDecodeObject(t *testing.T, s string) {
	var want map[string]any
	wantErr := json.Unmarshal([]byte(s), &want)
	got, err := decodeObject(s)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", s, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, encoding/json gives %#v", s, got, want)
	}
	// The fast path must handle what the store writes.
	if wantErr == nil && want != nil {
		b, _ := json.Marshal(want)
		d := objDecoder{s: string(b)}
		if _, err := d.value(0); err != nil {
			t.Fatalf("%s: the fast path fell back on encoding/json's own output", b)
		}
	}
}
