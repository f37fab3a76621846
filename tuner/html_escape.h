// Text into HTML and SVG (text content and quoted attribute values alike).
#pragma once

#include <string>

namespace qtune {

/// & < > " ' as character references; everything else (UTF-8 included) as is.
std::string html_escape(const std::string& text);

}  // namespace qtune
