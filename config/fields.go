package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Field is one setting of Config or CI: its key (the `json` tag), the reason README shows (the `doc` tag), and
// where it lives in the struct. Kinds: string, int, bool and []string.
type Field struct {
	Key, Doc string
	index    int
	kind     reflect.Kind
}

// StageFields lists Config's settings in declaration order.
func StageFields() []Field { return fieldsOf(reflect.TypeOf(Config{})) }

// CIFields lists CI's settings in declaration order.
func CIFields() []Field { return fieldsOf(reflect.TypeOf(CI{})) }

func fieldsOf(t reflect.Type) []Field {
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("json")
		if key == "" || key == "-" {
			continue
		}
		kind := f.Type.Kind()
		if kind == reflect.Slice && f.Type.Elem().Kind() != reflect.String {
			panic(fmt.Sprintf("config: %s.%s: only []string lists are settings", t.Name(), f.Name))
		}
		out = append(out, Field{Key: key, Doc: f.Tag.Get("doc"), index: i, kind: kind})
	}
	return out
}

func findField(fields []Field, key string) (Field, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// set parses raw (a JSON value from a settings file, or the text of `-c key=value`) into the field of target
// (a pointer to Config or CI). On failure it returns what the field wants, for a FieldError.
func (f Field) set(target any, raw any) (allowed string, ok bool) {
	v := reflect.ValueOf(target).Elem().Field(f.index)
	text, isText := raw.(string)
	switch f.kind {
	case reflect.String:
		if !isText {
			return "text (a JSON string)", false
		}
		v.SetString(text)
	case reflect.Int:
		n, ok := parseInt(raw)
		if !ok {
			return "a whole number", false
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, isBool := raw.(bool)
		if isText && (text == "true" || text == "false") {
			b, isBool = text == "true", true
		}
		if !isBool {
			return "true or false", false
		}
		v.SetBool(b)
	case reflect.Slice:
		list, ok := parseList(raw)
		if !ok {
			return `a list: comma-separated text (a,b) or a JSON array of strings (["a","b"])`, false
		}
		v.Set(reflect.ValueOf(list))
	}
	return "", true
}

func parseInt(raw any) (int, bool) {
	switch x := raw.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, true
		}
	}
	return 0, false
}

func parseList(raw any) ([]string, bool) {
	var items []any
	switch x := raw.(type) {
	case []any:
		items = x
	case string:
		text := strings.TrimSpace(x)
		if strings.HasPrefix(text, "[") {
			if err := json.Unmarshal([]byte(text), &items); err != nil {
				return nil, false
			}
			break
		}
		out := []string{}
		for _, part := range strings.Split(text, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, true
	default:
		return nil, false
	}
	out := []string{}
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// Format renders the field's value in target (Config or CI, by value or pointer) as a settings file would
// hold it, for `make config` and README.
func (f Field) Format(target any) string {
	v := reflect.Indirect(reflect.ValueOf(target)).Field(f.index)
	switch f.kind {
	case reflect.Slice:
		return strings.Join(v.Interface().([]string), ", ")
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
	}
	return fmt.Sprint(v.Interface())
}

// intValue is the value of a whole-number field in target (Config or CI, by value or pointer).
func (f Field) intValue(target any) int {
	return int(reflect.Indirect(reflect.ValueOf(target)).Field(f.index).Int())
}

// stringValue is the value of a text field in target (Config or CI, by value or pointer).
func (f Field) stringValue(target any) string {
	return reflect.Indirect(reflect.ValueOf(target)).Field(f.index).String()
}
