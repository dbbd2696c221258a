// Package sizecheck holds only a test: it keeps the project's size rules,
// no function over 80 lines and no non-test file over 600 lines, outside
// generated code and a short list of known exceptions.
package sizecheck
