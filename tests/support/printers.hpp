// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Force-included into every test translation unit (see tests/CMakeLists.txt): teaches doctest to
// print boost::system::result, whose own operator<< needs the value type to be printable.
#include <boost/system/result.hpp>
#include <doctest/doctest.h>

#include <string>

namespace doctest {

template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
  static String convert(const boost::system::result<T, E>& r) {
    if (r.has_value()) {
      return "result(value)";
    }
    const std::string text = "result(error: " + r.error().message() + ")";
    return String(text.c_str());
  }
};

}  // namespace doctest
