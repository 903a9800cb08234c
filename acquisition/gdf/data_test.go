package gdf
