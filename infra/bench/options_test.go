package bench

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr []string // substrings the error must contain; nil: no error
	}{
		{
			name: "defaults",
			want: Options{Scenarios: []string{"seed", "hot", "uniform", "mixed"}, Workers: []int{16, 64}, Duration: 15 * time.Second},
		},
		{
			name: "every flag, double dashes, duplicates dropped, order kept",
			args: []string{"--scenario", "hot, seed,hot", "--workers=4,1,4", "--duration", "1500ms", "--json", "out.json", "--restock-every", "100ms"},
			want: Options{Scenarios: []string{"hot", "seed"}, Workers: []int{4, 1}, Duration: 1500 * time.Millisecond, JSONFile: "out.json", RestockEvery: 100 * time.Millisecond},
		},
		{
			name:    "every bad value is named at once",
			args:    []string{"-scenario", "hot,warm", "-workers", "0,x,999", "-duration", "0s", "-restock-every", "-1s"},
			wantErr: []string{`unknown scenario "warm"`, `"0" is not a worker count`, `"x" is not`, `"999" is not`, "--duration", "--restock-every"},
		},
		{name: "empty lists", args: []string{"--scenario", ",", "--workers", ""}, wantErr: []string{"at least one scenario", "at least one worker count"}},
		{name: "unknown flag", args: []string{"--rate", "5"}, wantErr: []string{"rate"}},
		{name: "positional argument", args: []string{"hot"}, wantErr: []string{`unexpected argument "hot"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args, io.Discard)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseArgs(%q) error = %v", tt.args, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ParseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseArgs(%q) = %+v, want an error", tt.args, got)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("ParseArgs(%q) error %q does not contain %q", tt.args, err, s)
				}
			}
		})
	}
}
