/* cgo compiles only the files in this directory: this one brings in the
 * core source of the same name (ruphin_test.go checks none is missing). */
#include "../../core/src/bigarray.c"
