// SPDX-License-Identifier: AGPL-3.0-or-later
// The one translation unit that compiles Asio, Asio SSL and Beast (BOOST_ASIO_SEPARATE_COMPILATION,
// BOOST_BEAST_SEPARATE_COMPILATION). Nothing else belongs in this file.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
