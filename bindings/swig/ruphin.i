/* SWIG interface over the public header, for languages without a binding of
 * their own. It adds only what SWIG needs to handle the header's idioms:
 * out-pointers (ruphin_node **), byte buffers, and event payloads. See
 * bindings/swig/README.md. */
%module ruphin

%{
#include "ruphin.h"
%}

%include <stdint.i>
%include <cpointer.i>
%include <cdata.i>

/* The export macro means nothing to SWIG. */
#define RUPHIN_API

/* ruphin_node ** and ruphin_options ** out-parameters: new_nodep(), then
 * nodep_value() after the call. */
%pointer_functions(ruphin_node *, nodep);
%pointer_functions(ruphin_options *, optionsp);

/* Session ids and payloads are (pointer, length) byte strings. */
%apply (char *STRING, size_t LENGTH) { (const uint8_t *session_id, size_t session_id_len) };
%apply (char *STRING, size_t LENGTH) { (const uint8_t *data, size_t len) };

%include "ruphin.h"

%inline %{
/* An event's payload as a byte string (cdata would need the length twice). */
SWIGCDATA ruphin_event_payload(const ruphin_event *event) {
    return cdata_void((void *)event->data, (int)event->len);
}

/* An address as "host:port" text. */
const char *ruphin_addr_text(const ruphin_addr *addr) {
    static char buf[RUPHIN_ADDRSTRLEN];
    if (ruphin_addr_format(addr, buf, sizeof buf) < 0)
        buf[0] = '\0';
    return buf;
}
%}
